"""The domain: plain values and pure functions. No I/O, no database, no clock."""
