"""Named SQL and small fetch functions, one module per resource."""
