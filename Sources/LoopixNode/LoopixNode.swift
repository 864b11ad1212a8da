// LoopixNode: the mix and provider runtime.
import LoopixSphinx
