package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// unet (also heatmap and multitask): Depth down stages (two conv blocks, then 2x2 max pool), a
// bottleneck of two conv blocks (dilated by Spec.Dilation, padding
// Dilation so the size is kept), Depth up stages (nearest 2x upsample, 3x3
// conv block, concat with the skip, two conv blocks), 1x1 head.
func (b *builder) unet(x *G.Node) (*G.Node, error) {
	s := b.m.Spec
	var skips []*G.Node
	h := x
	var err error
	for i := 0; i < s.Depth; i++ {
		c := s.Base << i
		for j := 0; j < 2; j++ {
			if h, err = b.convBlock(fmt.Sprintf("down%d.%d", i, j), h, c, 3, 1); err != nil {
				return nil, err
			}
		}
		skips = append(skips, h)
		if h, err = b.maxPool(fmt.Sprintf("down%d.pool", i), h); err != nil {
			return nil, err
		}
	}
	c := s.Base << s.Depth
	for j := 0; j < 2; j++ {
		if h, err = b.convBlockDil(fmt.Sprintf("bottom.%d", j), h, c, 3, 1, s.Dilation); err != nil {
			return nil, err
		}
	}
	if h, err = b.dropout("bottom.dropout", h); err != nil {
		return nil, err
	}
	var cls *G.Node
	if b.m.Multitask() {
		g, err := b.gap("cls.gap", h)
		if err != nil {
			return nil, err
		}
		if cls, err = b.dense("cls.fc", g, 1); err != nil {
			return nil, err
		}
	}
	for i := s.Depth - 1; i >= 0; i-- {
		c := s.Base << i
		if h, err = b.upsample(fmt.Sprintf("up%d.upsample", i), h); err != nil {
			return nil, err
		}
		if h, err = b.convBlock(fmt.Sprintf("up%d.reduce", i), h, c, 3, 1); err != nil {
			return nil, err
		}
		if h, err = ConcatC(skips[i], h); err != nil {
			return nil, fmt.Errorf("up%d.concat: %w", i, err)
		}
		b.rec(fmt.Sprintf("up%d.concat", i), h)
		for j := 0; j < 2; j++ {
			if h, err = b.convBlock(fmt.Sprintf("up%d.%d", i, j), h, c, 3, 1); err != nil {
				return nil, err
			}
		}
	}
	seg, err := b.conv("head", h, b.m.OutC, 1, 1, 0)
	if err != nil || cls == nil {
		return seg, err
	}
	out, err := applyKern(packKern{}, seg, cls)
	if err != nil {
		return nil, fmt.Errorf("multitask output: %w", err)
	}
	b.rec("output", out)
	return out, nil
}

// cnn: Depth stages of two conv blocks and a 2x2 max pool (no pool after
// the last stage), global average pooling, dropout, dense.
func (b *builder) cnn(x *G.Node) (*G.Node, error) {
	s := b.m.Spec
	h := x
	var err error
	for i := 0; i < s.Depth; i++ {
		c := s.Base << i
		for j := 0; j < 2; j++ {
			if h, err = b.convBlock(fmt.Sprintf("stage%d.%d", i, j), h, c, 3, 1); err != nil {
				return nil, err
			}
		}
		if i < s.Depth-1 {
			if h, err = b.maxPool(fmt.Sprintf("stage%d.pool", i), h); err != nil {
				return nil, err
			}
		}
	}
	return b.classifierHead(h)
}

func (b *builder) classifierHead(h *G.Node) (*G.Node, error) {
	h, err := b.gap("gap", h)
	if err != nil {
		return nil, err
	}
	if h, err = b.dropout("dropout", h); err != nil {
		return nil, err
	}
	return b.dense("fc", h, b.m.OutC)
}

// resnet: 3x3 stem conv block, Depth stages of two basic blocks (stride 2
// at the start of every stage after the first, 1x1 projection shortcut when
// the shape changes), global average pooling, dropout, dense.
func (b *builder) resnet(x *G.Node) (*G.Node, error) {
	s := b.m.Spec
	h, err := b.convBlock("stem", x, s.Base, 3, 1)
	if err != nil {
		return nil, err
	}
	for i := 0; i < s.Depth; i++ {
		c := s.Base << i
		for j := 0; j < 2; j++ {
			stride := 1
			if j == 0 && i > 0 {
				stride = 2
			}
			if h, err = b.basicBlock(fmt.Sprintf("stage%d.%d", i, j), h, c, stride); err != nil {
				return nil, err
			}
		}
	}
	return b.classifierHead(h)
}

func (b *builder) basicBlock(name string, x *G.Node, c, stride int) (*G.Node, error) {
	h, err := b.convBlock(name+".a", x, c, 3, stride)
	if err != nil {
		return nil, err
	}
	if h, err = b.conv(name+".b.conv", h, c, 3, 1, 1); err != nil {
		return nil, err
	}
	if h, err = b.norm(name+".b.norm", h); err != nil {
		return nil, err
	}
	short := x
	if stride != 1 || x.Shape()[1] != c {
		if short, err = b.conv(name+".proj", x, c, 1, stride, 0); err != nil {
			return nil, err
		}
	}
	if h, err = Add(h, short); err != nil {
		return nil, fmt.Errorf("%s.add: %w", name, err)
	}
	return b.act(h)
}
