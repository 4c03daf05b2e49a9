"""Plumbing shared by Anju's processes: the MQTT link, broker start-up, install checks, the demo.

Nothing of the domain lives here; the contracts are in `models`.
"""
