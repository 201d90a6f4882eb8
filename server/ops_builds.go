package server

// Deleting a build, as the workspace API and the console do: it knows no
// HTTP.

// deleteBuild deletes a build of the request's project with its files
// (their links deactivated; storage usage drops), and logs who did.
func (s *Server) deleteBuild(c *call, id string) error {
	b, err := s.projectBuild(c, id)
	if err == nil {
		err = notFoundAs(s.depot.DeleteBuild(c.st().Actor(), b.ID), "build")
	}
	if err != nil {
		return err
	}
	s.log.Info("build deleted", "build", b.ID, "project", c.proj.Slug, "by", c.who.name)
	return nil
}
