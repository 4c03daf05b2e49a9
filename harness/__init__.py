"""What runs whole compounds as processes, for the demo, the tests and the benchmarks: a
broker, the hub, edges and simulated gate hardware, the simulated day, chaos and traffic.

It may import everything; nothing in `anju`, `edge`, `hub` or `models` imports it.
"""
