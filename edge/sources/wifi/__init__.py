"""Public Wi-Fi at the cultural house: AP up, clients, bytes, and daily unique users from salted hashes."""
