/* Loopix Sphinx core: public API (placeholder until the core lands). */
#ifndef LOOPIX_SPHINX_H
#define LOOPIX_SPHINX_H
int lsx_init(void);
#endif
