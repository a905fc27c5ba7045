"""The expertise as data: the rule catalog, the checklist, templates and guides."""
