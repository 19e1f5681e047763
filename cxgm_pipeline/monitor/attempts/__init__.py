"""Migration attempts: what one is, how it is named, how it is found in Step Functions."""
