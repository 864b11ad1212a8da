#include "loopix_sphinx.h"
int lsx_init(void) { return 0; }
