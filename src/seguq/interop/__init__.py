"""Exchange with other tools: nnU-Net's per-case probability files (`.npz` + `.pkl`)."""
