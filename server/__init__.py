"""The MCP server, the command line, configuration and output rendering."""
