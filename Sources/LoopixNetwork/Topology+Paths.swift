// Path selection over the stratified topology: one node drawn uniformly from each layer.
import LoopixSphinx

extension Topology {
    /// The route of a loop packet of mix `origin`: a uniformly chosen mix from each later layer,
    /// a uniformly chosen provider, a mix from each earlier layer, and `origin` itself last.
    /// For a mix of layer i in l layers: i+1, ..., l, provider, 1, ..., i-1, origin.
    public func loopPath(
        from origin: NodeID,
        using generator: inout some RandomNumberGenerator
    ) throws(TopologyError) -> [NodeDescriptor] {
        guard let me = node(origin) else { throw .unknownNode(origin) }
        guard let provider = providers.randomElement(using: &generator) else { throw .noProvider }
        var path: [NodeDescriptor] = []
        let layers = parameters.layers
        let myLayer = me.role == .mix ? me.layer : 0
        for layer in stride(from: myLayer + 1, through: layers, by: 1) {
            path.append(try mix(inLayer: layer, using: &generator))
        }
        if me.role == .mix { path.append(provider) }
        // A provider's loop already crossed every layer above.
        for layer in stride(from: 1, to: me.role == .mix ? myLayer : 1, by: 1) {
            path.append(try mix(inLayer: layer, using: &generator))
        }
        path.append(me)
        return path
    }

    /// The nodes whose packets reach node `id` on the routes clients and mixes build: for a mix
    /// of layer 1 the providers, for one of layer i > 1 the mixes of layer i - 1, for a provider
    /// the mixes of the last layer (its clients are not in the topology). Loops cross the same
    /// edges: a mix's own loop comes back from the layer before it (layer 1's from a provider),
    /// and a loop reaches the provider from the last layer.
    public func senders(to id: NodeID) -> [NodeDescriptor] {
        guard let me = node(id) else { return [] }
        switch me.role {
        case .provider: return mixes(inLayer: parameters.layers)
        case .mix: return me.layer == 1 ? providers : mixes(inLayer: me.layer - 1)
        }
    }

    /// A uniformly chosen mix of one layer.
    public func mix(
        inLayer layer: Int,
        using generator: inout some RandomNumberGenerator
    ) throws(TopologyError) -> NodeDescriptor {
        guard let mix = mixes(inLayer: layer).randomElement(using: &generator) else { throw .emptyLayer(layer) }
        return mix
    }

    /// A forward path for a client of any provider: a mix from each layer 1...l, then `destination`.
    public func forwardPath(
        to destination: NodeDescriptor,
        using generator: inout some RandomNumberGenerator
    ) throws(TopologyError) -> [NodeDescriptor] {
        var path: [NodeDescriptor] = []
        for layer in 1...parameters.layers {
            path.append(try mix(inLayer: layer, using: &generator))
        }
        path.append(destination)
        return path
    }
}
