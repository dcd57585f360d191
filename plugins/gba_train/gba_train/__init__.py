"""gba-train: LoRA fine-tuning of a planner on packaged trajectories (``gba sim
package``), export to GGUF for the ``llama-cpp:`` backend, and evaluation on held-out
steps. Work in progress: the base-model preparation and the train/inference identity of
prompts are here; the ``gba train`` commands follow."""
