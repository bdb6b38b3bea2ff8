module github.com/refugelab/refugelab

go 1.26.8
