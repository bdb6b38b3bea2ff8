package train

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Loss: LossSpec{Name: "bce"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults with a loss: %v", err)
	}
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{}, "train.loss.name: missing"},
		{Config{Loss: LossSpec{Name: "bce"}, Optimizer: OptSpec{Name: "adamm"}}, `train.optimizer.name: unknown optimizer "adamm"`},
		{Config{Loss: LossSpec{Name: "bce"}, Optimizer: OptSpec{Name: "adam", Nesterov: true}}, "train.optimizer.nesterov"},
		{Config{Loss: LossSpec{Name: "bce"}, Optimizer: OptSpec{LR: -1}}, "train.optimizer.lr"},
		{Config{Loss: LossSpec{Name: "bce"}, Schedule: SchedSpec{Name: "cosin"}}, `did you mean "cosine"`},
		{Config{Loss: LossSpec{Name: "bce"}, Epochs: 3, Schedule: SchedSpec{WarmupEpochs: 3}}, "train.schedule.warmup_epochs"},
		{Config{Loss: LossSpec{Name: "bce"}, MonitorMode: "maximum"}, "train.monitor_mode"},
		{Config{Loss: LossSpec{Name: "bce"}, BatchSize: -2}, "train.batch_size"},
		{Config{Loss: LossSpec{Name: "focal", Params: map[string]any{"alpha": 2.0}}}, "loss.focal.alpha: 2 out of range"},
	} {
		err := tc.c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, expected it to contain %q", tc.c, err, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	c := Config{Epochs: 30, BatchSize: 8, Optimizer: OptSpec{Name: "adamw", LR: 0.001}, Schedule: SchedSpec{Name: "cosine", WarmupEpochs: 2},
		Loss: LossSpec{Name: "bce", Params: map[string]any{"pos_weight": 9.0}}, Patience: 5, Monitor: "auc"}
	got := c.DescribeAll()
	want := []string{
		"Training runs for up to 30 epochs with batches of 8 in a seeded order, validating every 1 epoch(s); the checkpoint with the best auc (max) is kept, and training stops early after 5 validations without improvement.",
		"AdamW (Loshchilov & Hutter) with learning rate 0.001, betas (0.9, 0.999), eps 1e-08 and decoupled weight decay 0.01.",
		"The learning rate follows a cosine decay to 0 over the training, after a linear warm-up over the first 2 epochs, updated at every step.",
		"Binary cross-entropy on the logit with pos_weight 9 (positive terms weighted), averaged over targets.",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sentences: %q", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sentence %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}
