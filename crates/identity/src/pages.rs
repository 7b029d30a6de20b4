//! Dashboard pages of identity (log-in, sign-up, team, API keys, account).
