"""Contracts shared by the edge, the hub and the device mocks.

What crosses between processes is defined here once: event and alarm payloads, the signed
envelope they travel in, confirmations, registry deltas and MQTT topics.
"""
