"""Azure collectors: Cost Management exports from Blob storage, the Query API, and the resource inventory."""
