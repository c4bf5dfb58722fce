"""The read side: observe what the engine has, judge it against the model (plan, drift, status,
verify, the security summary). Pure but for `observe`'s use of the Engine protocol."""
