// The pod sandbox's process for the local cluster (no image can be pulled here).
module modelpack.local/tools/pause

go 1.24.0
