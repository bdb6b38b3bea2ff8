package main

import (
	_ "github.com/cheggaaa/pb/v3"
	_ "github.com/sbinet/npyio"
	_ "github.com/xuri/excelize/v2"
	_ "golang.org/x/image/bmp"
	_ "gonum.org/v1/plot"
	_ "gopkg.in/yaml.v3"
	_ "gorgonia.org/gorgonia"
	_ "gorgonia.org/tensor"
)
