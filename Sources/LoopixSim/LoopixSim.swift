// LoopixSim: anonymity evaluation of the Loopix model (Piotrowska et al.,
// "The Loopix Anonymity System", USENIX Security 2017), independent of the
// network code.
//
// What is here:
// - `PoissonMixEntropy`: event-driven simulation of one Poisson mix and the
//   adversary's Shannon entropy for each outgoing message (paper section 4.1.3,
//   incremental formula of Appendix A.1), optionally with the mix's own loop
//   cover traffic (Theorem 2).
// - `PoolTheoremCheck` and `NMinusOneAttack`: simulations with real exponential
//   delays and message identities, used to check Theorems 1 and 2 numerically.
// - `UnlinkabilitySimulation`: the end-to-end unlinkability metric epsilon of
//   section 4.3 in a stratified network of Poisson mixes.
// - `PaperSweeps`: the parameter sweeps of the paper's entropy and epsilon figures.
// - `Advisor`: proposes a delay parameter and cover-traffic rates for a latency
//   budget and an anonymity target.
//
// Units: time is in abstract "time units" (the paper's), rates are per time
// unit, entropies are in bits, epsilon uses the natural logarithm.
public enum LoopixSim {
    /// Version of the CSV/JSON output layout.
    public static let outputFormatVersion = 1
}
