"""The dashboard's pages, one module per group of routes."""
