"""Where image bytes live and how they are fetched: the local or S3 store, and URLs behind the SSRF
guard. Producer, worker, model and inference server all read images through here."""
