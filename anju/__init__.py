"""The runtime library the edge and the hub both run on: the MQTT link, TLS contexts, logging,
install checks, the model files and the face template engines.

It imports neither daemon (tests/unit/test_imports.py checks it); what runs whole compounds
(the demo, the end-to-end tests' compounds, the scenario, chaos and traffic) is in `harness`.
The contracts are in `models`.
"""
