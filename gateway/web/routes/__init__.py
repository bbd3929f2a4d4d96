"""HTTP routes, one module per resource; handlers stay short and raise domain errors."""
