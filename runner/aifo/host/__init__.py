"""Files of the host aifo reads itself: bounded, non-blocking reads, the CA bundle, build
contexts hashed as the engine would send them."""
