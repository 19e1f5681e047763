"""AWS access: clients per stage with retries and pacing at AWS's quotas, secrets cut from what is kept, and the checks of `cxgm doctor`."""
