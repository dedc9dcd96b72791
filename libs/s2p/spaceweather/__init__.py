"""s2p.spaceweather — placeholder until the segment lands."""
