"""An emulated AWS account (moto server on localhost) running a realistic, live CELLxGENE schema migration."""
