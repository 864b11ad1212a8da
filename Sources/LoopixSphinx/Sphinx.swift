// LoopixSphinx: the Swift face of the C Sphinx core.
import CLoopixSphinx
