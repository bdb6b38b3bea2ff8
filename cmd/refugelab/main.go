// Command refugelab runs reproducible REFUGE2 experiments.
package main

func main() {}
