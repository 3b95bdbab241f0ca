"""Stream declarations, grouped by domain."""
