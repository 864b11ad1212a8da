// LoopixNetwork: topology, node ids, path selection and wire framing.
import LoopixSphinx
