"""What Python and the page agree on: the array codec, the points/paths schema, jobs, tables."""
