"""What the hub makes of the entry log: occupancy, anomalies, incidents and the zero-incident
rate, work orders, the register's reconciliation, and retention."""
