"""The edge daemon: reads the gate's devices, decides, and delivers every event to the hub."""
