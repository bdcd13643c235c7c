"""The 4G modem's radio state over its AT serial port: SIM, registration, operator, technology, signal."""
