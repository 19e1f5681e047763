"""Where frames live (a local folder or S3) and how they travel (bundles)."""
