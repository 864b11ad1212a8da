/* The primitives the Sphinx core is built from, for measuring its floor side by side with it. */
#include <sodium.h>
#include <openssl/evp.h>
