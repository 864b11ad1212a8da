// LoopixSim: anonymity and queueing simulation of the Loopix model.
public enum LoopixSim {}
