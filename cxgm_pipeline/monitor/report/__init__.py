"""The report people read: Markdown and HTML with plots, and the links to it."""
