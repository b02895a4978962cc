"""Network architectures shared by the model families, named as their reference implementations name them."""
