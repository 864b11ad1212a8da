// Node identity as the Sphinx layer names it.
import LoopixSphinx

/// The 32-byte id of a node, as it appears in a RELAY command.
public typealias NodeID = SphinxAddress
