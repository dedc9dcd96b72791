"""s2p.neo — placeholder until the segment lands."""
