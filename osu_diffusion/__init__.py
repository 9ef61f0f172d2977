"""osu_diffusion: a small diffusion model that refines generated hit-object positions."""
