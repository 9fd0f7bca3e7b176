"""Networks: generators and discriminators of every system, registered by architecture name in
`ganforge.nets.registry`. This file imports nothing, so importing one module of the package
(its configs, say) does not pull in every network."""
