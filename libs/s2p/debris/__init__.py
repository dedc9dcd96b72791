"""s2p.debris — placeholder until the segment lands."""
