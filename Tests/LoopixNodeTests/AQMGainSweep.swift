import LoopixNode
import Testing
/// How the AQM defaults were chosen (docs/node.md): a grid over update interval and gains on the
/// synthetic queue. A measurement, not a check; run with `--filter aqmGainSweep` after enabling.
@Test(.disabled("a measurement run by hand, see docs/node.md"))
func aqmGainSweep() {
    for u in [0.0005, 0.001] { for a in [1.0, 2.0, 5] { for b in [10.0, 20.0, 50] {
        var s = QueueSimulation(); s.configuration.updateInterval = u; s.configuration.integralGain = a; s.configuration.proportionalGain = b
        var line = "u \(u) a \(a) b \(b):"
        for load in [1.5, 2.0] {
            let r = s.run([.init(load: load, seconds: 3)], measureFrom: 0.5)
            line += String(format: " L%.1f good %.3f mean %.2f p99 %.2f lim %.4f;", load, r.goodputFraction, r.meanSojourn*1000, r.sojournQuantile(0.99)*1000, Double(r.limitDrops)/Double(r.offered))
        }
        let r = s.run([.init(load: 0.9, seconds: 2)])
        line += String(format: " L0.9 drop %.4f", Double(r.aqmDrops)/Double(r.offered))
        print(line)
    }}}
}
import Foundation
