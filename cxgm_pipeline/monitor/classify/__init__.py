"""Why a job failed: the classifier (rules as data in rules.toml) and the log parsing it reads."""
