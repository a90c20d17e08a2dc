"""What a site technician runs: register a bridge point, import many, prove the line."""
